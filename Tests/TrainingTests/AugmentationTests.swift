import XCTest
@testable import Training

final class AugmentationTests: XCTestCase {
    private func image(_ h: Int, _ w: Int, _ c: Int) -> [UInt8] { (0..<(h * w * c)).map { UInt8(($0 * 7) % 251) } }

    /// Without augmentation the output is (pixel/255 − mean)/std in CHW order.
    func testPlainNormalisationMatchesTheFormula() {
        let (h, w, c) = (5, 4, 3)
        let src = image(h, w, c)
        let aug = Augmentation(cropPadding: 4, flip: true, mean: [0.1, 0.2, 0.3], std: [0.5, 0.25, 0.2])
        var out = [Float](repeating: 0, count: h * w * c)
        src.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { d in
            aug.apply(src: s.baseAddress!, height: h, width: w, channels: c, dst: d.baseAddress!, augment: false, seed: 1, epoch: 0, sampleIndex: 0)
        } }
        for ch in 0..<c { for y in 0..<h { for x in 0..<w {
            let expected = (Float(src[(y * w + x) * c + ch]) / 255 - aug.mean[ch]) / aug.std[ch]
            XCTAssertEqual(out[(ch * h + y) * w + x], expected, accuracy: 1e-5)
        } } }
    }

    /// A sample's crop and flip depend on (seed, epoch, sample) only, and vary between samples.
    func testAugmentationIsKeyedBySample() {
        let (h, w, c) = (8, 8, 1)
        let src = image(h, w, c)
        let aug = Augmentation(cropPadding: 2, flip: true, mean: [0], std: [1])
        func run(_ sample: Int, _ epoch: Int) -> [Float] {
            var out = [Float](repeating: 0, count: h * w * c)
            src.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { d in
                aug.apply(src: s.baseAddress!, height: h, width: w, channels: c, dst: d.baseAddress!, augment: true, seed: 9, epoch: epoch, sampleIndex: sample)
            } }
            return out
        }
        XCTAssertEqual(run(3, 1), run(3, 1))
        let variants = Set((0..<40).map { run($0, 1) })
        XCTAssertGreaterThan(variants.count, 10, "crops and flips should vary between samples")
        // Every output pixel is either padding (0) or a source pixel: crops never invent values.
        let pixels = Set(src.map { Float($0) * (1 / Float(255)) })
        for v in run(5, 2) { XCTAssertTrue(v == 0 || pixels.contains(v)) }
    }
}
