#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

// @unchecked Sendable: the mapping is read-only and never changes after init; deinit unmaps it.
/// A whole file mapped read-only into memory, so weights are paged in on demand and never copied.
///
/// If another process truncates the file while it is mapped, reading the lost pages raises SIGBUS; like llama.cpp
/// and the safetensors crate, vlbatch accepts that risk for checkpoints, which are not rewritten in place.
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened with.
    public let path: String
    /// The file's bytes; valid while this object lives.
    public let bytes: UnsafeRawBufferPointer

    /// Maps the regular file at `path`.
    public init(path: String) throws(CoreError) {
        self.path = path
        // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below as not a regular file.
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            throw errno == ENOENT ? .missingFile(path: path) : Self.failure(path)
        }
        // The mapping stays valid after the descriptor is closed.
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw Self.failure(path) }
        guard status.st_mode & S_IFMT == S_IFREG else { throw .notRegularFile(path: path) }
        let size = Int(status.st_size)
        // mmap refuses a zero length; an empty file maps to an empty buffer, which the readers reject by size.
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let address, address != UnsafeMutableRawPointer(bitPattern: -1) else { throw Self.failure(path) }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    /// Faults in the pages of `range` now (`madvise(MADV_POPULATE_READ)`, Linux 5.14 and later; elsewhere a
    /// `MADV_WILLNEED` read-ahead hint), so the weights a model reads in place are resident when loading ends instead
    /// of being paged in by the first image or prompt.
    func prefetch(_ range: Range<Int>) {
        guard let base = bytes.baseAddress, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = range.lowerBound / page * page
        let pointer = UnsafeMutableRawPointer(mutating: base + start)
        let length = range.upperBound - start
        #if os(Linux)
            if madvise(pointer, length, MADV_POPULATE_READ) == 0 { return }
        #endif
        _ = madvise(pointer, length, Int32(MADV_WILLNEED))
    }

    /// `madvise(MADV_DONTNEED)` on the whole pages inside `range`: a read-only private mapping drops them from the
    /// process and re-reads them from the file if they are touched again, so this only ever saves memory.
    func releaseResidentPages(_ range: Range<Int>) {
        guard let base = bytes.baseAddress else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (range.lowerBound + page - 1) / page * page
        let end = range.upperBound / page * page
        guard end > start else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
    }

    deinit {
        if let base = bytes.baseAddress {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        }
    }

    private static func failure(_ path: String) -> CoreError {
        .unreadableFile(path: path, reason: String(cString: strerror(errno)))
    }
}
