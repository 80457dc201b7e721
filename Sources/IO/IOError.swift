/// Every failure of the IO target: one line that names the file and the key, e.g.
/// `data.h5: /train/images: not found`. The trainer prints it as is and exits.
public struct IOError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String

    public init(_ message: String) { self.message = message }

    /// `"<file>: <key>: <problem>"`, or `"<file>: <problem>"` when no key is involved.
    public init(file: String, key: String? = nil, _ problem: String) {
        if let key { message = "\(file): \(key): \(problem)" } else { message = "\(file): \(problem)" }
    }

    public var description: String { message }
}

extension String {
    /// The text of a NUL-terminated C buffer (an error message a C library filled in).
    init(cBuffer: [CChar]) {
        self.init(decoding: cBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
