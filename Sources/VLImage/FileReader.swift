#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads whole files with POSIX calls, so each failure keeps its system reason ("No such file or directory").
enum FileReader {
    /// The bytes of the regular file at `path`.
    static func contents(ofFileAt path: String) throws(ImageError) -> [UInt8] {
        // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below as not a regular file.
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { throw failure(path) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw failure(path) }
        switch status.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw .unreadable(path: path, reason: "it is a directory")
        default: throw .unreadable(path: path, reason: "not a regular file")
        }
        let size = Int(status.st_size)
        var bytes = [UInt8](repeating: 0, count: size)
        var filled = 0
        while filled < size {
            let count = bytes.withUnsafeMutableBytes { buffer in
                read(descriptor, buffer.baseAddress! + filled, size - filled)
            }
            if count > 0 {
                filled += count
            } else if count == 0 {
                break  // the file shrank after fstat: decode what is there, which will be reported as truncated
            } else if errno != EINTR {
                throw failure(path)
            }
        }
        bytes.removeLast(size - filled)
        return bytes
    }

    private static func failure(_ path: String) -> ImageError {
        .unreadable(path: path, reason: String(cString: strerror(errno)))
    }
}
