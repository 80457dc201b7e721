import XCTest
@testable import TensorCore

final class SHA256Tests: XCTestCase {
    /// FIPS 180-4 / NIST CSHS example vectors.
    func testKnownVectors() {
        XCTAssertEqual(SHA256.hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
                       "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
        XCTAssertEqual(SHA256.hex(digest: SHA256.hash([UInt8](repeating: 0x61, count: 1_000_000))),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Feeding the same bytes in arbitrary pieces gives the same digest, at every padding edge.
    func testStreamingMatchesOneShot() {
        for n in [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000] {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let one = SHA256.hash(bytes)
            var s = SHA256()
            var i = 0, step = 1
            while i < n { let j = min(n, i + step); s.update(Array(bytes[i..<j])); i = j; step = step * 3 % 70 + 1 }
            XCTAssertEqual(s.finalize(), one, "n=\(n)")
        }
        XCTAssertEqual(SHA256.hex(digest: SHA256.hash(Array("The quick brown fox jumps over the lazy dog".utf8))),
                       "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592")
    }
}
