/// Everything that can go wrong while turning a file into an `RGBImage`.
///
/// Every case carries the file's path (or the name given to `ImageDecoder.decode(bytes:name:limits:)`); each
/// message names it and says what to do about it.
public enum ImageError: Error, CustomStringConvertible, Equatable {
    /// The file could not be read: missing, not permitted, a directory, or an I/O error.
    case unreadable(path: String, reason: String)
    /// The file holds no bytes at all.
    case empty(path: String)
    /// The content matches no image format (decided by content, never by the file extension).
    case unrecognized(path: String)
    /// A known image format other than PNG and JPEG, such as GIF, WebP or HEIC.
    case unsupportedFormat(path: String, format: String)
    /// The data ends before the image does.
    case truncated(path: String)
    /// The PNG or JPEG decoder rejected the data; `detail` is its message.
    case corrupt(path: String, detail: String)
    /// The header declares more pixels than the limit allows (a decompression-bomb guard checked before any
    /// pixel memory is allocated).
    case tooLarge(path: String, width: Int, height: Int, limit: Int)

    /// The file path or name the error is about.
    public var path: String {
        switch self {
        case .unreadable(let path, _), .empty(let path), .unrecognized(let path), .unsupportedFormat(let path, _),
            .truncated(let path), .corrupt(let path, _), .tooLarge(let path, _, _, _):
            return path
        }
    }

    /// A one-line message naming the file and saying what to do.
    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            return "\(path): cannot read the file (\(reason)); check the path and its permissions"
        case .empty(let path):
            return "\(path): the file is empty (0 bytes); re-download or re-export it"
        case .unrecognized(let path):
            return "\(path): not a PNG or JPEG image (the content matches no known image format); "
                + "remove it from the input"
        case .unsupportedFormat(let path, let format):
            return "\(path): unsupported format \(format); convert it to PNG or JPEG"
        case .truncated(let path):
            return "\(path): the image data ends early (truncated file); re-download or re-export it"
        case .corrupt(let path, let detail):
            return "\(path): corrupt image data (\(detail)); re-export the image or remove it from the input"
        case .tooLarge(let path, let width, let height, let limit):
            return "\(path): \(width)x\(height) pixels exceeds the decoder's limit of \(limit) pixels; "
                + "downscale the image, or raise the limit if you trust the file"
        }
    }
}
