import CJPEG
import CPNG
import Foundation

/// PNG and JPEG files as 8-bit pixels (H, W, C), C = 1 (grayscale) or 3 (RGB), through
/// Debian's libpng (its simplified API converts palette, 16-bit, alpha and gray/colour) and
/// libjpeg-turbo. The encoders exist so tests write files in the real formats.
public enum ImageCodec {
    public struct Image {
        public var pixels: [UInt8]      // (H, W, C)
        public let width: Int, height: Int, channels: Int
        public init(pixels: [UInt8], width: Int, height: Int, channels: Int) {
            precondition(pixels.count == width * height * channels, "ImageCodec.Image: \(pixels.count) bytes for \(width)x\(height)x\(channels)")
            self.pixels = pixels; self.width = width; self.height = height; self.channels = channels
        }
    }

    public static let extensions = ["png", "jpg", "jpeg"]

    /// Decodes a .png, .jpg or .jpeg file (chosen by its first bytes, not its name).
    public static func decode(file path: String, channels: Int) throws -> Image {
        precondition(channels == 1 || channels == 3, "ImageCodec: channels must be 1 or 3")
        guard let data = FileManager.default.contents(atPath: path) else { throw IOError(file: path, "missing or unreadable") }
        let bytes = [UInt8](data)
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return try decodePNG(bytes, path: path, channels: channels) }
        if bytes.starts(with: [0xFF, 0xD8]) { return try decodeJPEG(bytes, path: path, channels: channels) }
        throw IOError(file: path, "neither a PNG nor a JPEG file")
    }

    static func decodePNG(_ bytes: [UInt8], path: String, channels: Int) throws -> Image {
        var image = png_image()
        image.version = trainer_png_image_version()
        defer { png_image_free(&image) }
        guard bytes.withUnsafeBytes({ png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }) != 0 else {
            throw IOError(file: path, "bad PNG: \(message(of: image))")
        }
        image.format = channels == 1 ? trainer_png_format_gray() : trainer_png_format_rgb()
        let w = Int(image.width), h = Int(image.height)
        var pixels = [UInt8](repeating: 0, count: w * h * channels)
        let ok = pixels.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
        guard ok != 0 else { throw IOError(file: path, "bad PNG: \(message(of: image))") }
        return Image(pixels: pixels, width: w, height: h, channels: channels)
    }

    private static func message(of image: png_image) -> String {
        var m = image.message
        return withUnsafeBytes(of: &m) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    static func decodeJPEG(_ bytes: [UInt8], path: String, channels: Int) throws -> Image {
        var out: UnsafeMutablePointer<UInt8>?
        var w: Int32 = 0, h: Int32 = 0
        var text = [CChar](repeating: 0, count: 256)
        let rc = bytes.withUnsafeBufferPointer { b in
            trainer_jpeg_decode(b.baseAddress, UInt(b.count), Int32(channels), &out, &w, &h, &text, text.count)
        }
        guard rc == 0, let out else { throw IOError(file: path, "bad JPEG: \(String(cBuffer: text))") }
        defer { free(out) }
        let pixels = [UInt8](UnsafeBufferPointer(start: out, count: Int(w) * Int(h) * channels))
        return Image(pixels: pixels, width: Int(w), height: Int(h), channels: channels)
    }

    /// Writes `image` as PNG (lossless).
    public static func writePNG(_ image: Image, to path: String) throws {
        var png = png_image()
        png.version = trainer_png_image_version()
        png.width = UInt32(image.width); png.height = UInt32(image.height)
        png.format = image.channels == 1 ? trainer_png_format_gray() : trainer_png_format_rgb()
        let ok = image.pixels.withUnsafeBytes { png_image_write_to_file(&png, path, 0, $0.baseAddress, 0, nil) }
        defer { png_image_free(&png) }
        guard ok != 0 else { throw IOError(file: path, "cannot write PNG: \(message(of: png))") }
    }

    /// Writes `image` as JPEG at `quality` (1...100).
    public static func writeJPEG(_ image: Image, to path: String, quality: Int = 95) throws {
        var text = [CChar](repeating: 0, count: 256)
        let rc = image.pixels.withUnsafeBufferPointer {
            trainer_jpeg_encode_file(path, $0.baseAddress, Int32(image.width), Int32(image.height), Int32(image.channels),
                                     Int32(quality), &text, text.count)
        }
        guard rc == 0 else { throw IOError(file: path, "cannot write JPEG: \(String(cBuffer: text))") }
    }
}
