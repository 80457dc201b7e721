import XCTest
import TensorCore
@testable import NN

/// Winograd's float32 error on the CIFAR layer shapes, 16 to 512 channels, against a float64
/// direct convolution of the same float32 inputs: x and ∂y N(0, 1), weights N(0, 1/fan_in).
/// Prints the table (relative error ‖a − b‖/‖b‖ per pass and tile) and holds every entry to
/// DESIGN.md's op tolerances: 1e-5 forward, 1e-4 for both gradients.
final class WinogradErrorTests: XCTestCase {
    struct Shape { let channels: Int, size: Int, batch: Int }

    static let shapes = [
        Shape(channels: 16, size: 32, batch: 2), Shape(channels: 32, size: 16, batch: 2),
        Shape(channels: 64, size: 8, batch: 2), Shape(channels: 128, size: 8, batch: 1),
        Shape(channels: 256, size: 4, batch: 2), Shape(channels: 512, size: 4, batch: 1),
    ]

    func testErrorTableAgainstFloat64() {
        var lines = ["channels  map    tile   forward    ∂input     ∂weight"]
        for s in Self.shapes {
            let x = Self.normal(s.batch * s.channels * s.size * s.size, seed: 1, scale: 1)
            let w = Self.normal(s.channels * s.channels * 9, seed: 2, scale: 1 / Float(9 * s.channels).squareRoot())
            let gy = Self.normal(x.count, seed: 3, scale: 1)
            let ref = Self.reference(x, w, gy, s)
            for m in [2, 4] {
                let (y, gx, gw) = Self.winograd(x, w, gy, s, m: m)
                let e = (Self.err(y, ref.y), Self.err(gx, ref.gx), Self.err(gw, ref.gw))
                lines.append(String(format: "%8d  %2dx%-2d  F(%d)   %.2e   %.2e   %.2e", s.channels, s.size, s.size, m, e.0, e.1, e.2))
                let label = "\(s.channels) channels @\(s.size)x\(s.size), F(\(m)x\(m), 3x3)"
                XCTAssertLessThanOrEqual(e.0, 1e-5, "\(label): forward")
                XCTAssertLessThanOrEqual(e.1, 1e-4, "\(label): input gradient")
                XCTAssertLessThanOrEqual(e.2, 1e-4, "\(label): weight gradient")
            }
        }
        print("Winograd relative error against float64 (3x3, stride 1, padding 1, no bias):\n  " + lines.joined(separator: "\n  "))
    }

    /// Our float32 Winograd passes of one layer: y, ∂x and ∂w.
    static func winograd(_ x: [Float], _ w: [Float], _ gy: [Float], _ s: Shape, m: Int) -> ([Float], [Float], [Float]) {
        let store = ParameterStore()
        let conv = try! Conv2d(at: store.scope("c"), inputShape: [s.channels, s.size, s.size], outChannels: s.channels,
                               kernel: 3, padding: 1, bias: false)
        store.finalize(seed: 1)
        conv.algorithm = .winograd
        conv.winogradTileOverride = m
        precondition(conv.winogradTile == m)
        for i in 0..<w.count { conv.weight.value![i] = w[i] }
        let shape = [s.batch, s.channels, s.size, s.size]
        let ctx = ForwardContext()
        let y = conv.forward(Tensor(shape: shape, values: x), ctx).array
        let gx = conv.backward(Tensor(shape: shape, values: gy), ctx).array
        return (y, gx, Array(conv.weight.grads))
    }

    /// Direct convolution in Double: y, ∂x and ∂w of a 3×3 pad-1 layer with C = K channels.
    static func reference(_ x: [Float], _ w: [Float], _ gy: [Float], _ s: Shape) -> (y: [Double], gx: [Double], gw: [Double]) {
        let c = s.channels, h = s.size, hw = h * h
        var y = [Double](repeating: 0, count: x.count), gx = y, gw = [Double](repeating: 0, count: w.count)
        for n in 0..<s.batch {
            for k in 0..<c {
                for ci in 0..<c {
                    let xb = (n * c + ci) * hw, yb = (n * c + k) * hw, wb = (k * c + ci) * 9
                    for kh in 0..<3 {
                        for kw in 0..<3 {
                            let wv = Double(w[wb + kh * 3 + kw])
                            var gsum = 0.0
                            for oh in 0..<h {
                                let ih = oh + kh - 1
                                guard ih >= 0 && ih < h else { continue }
                                for ow in 0..<h {
                                    let iw = ow + kw - 1
                                    guard iw >= 0 && iw < h else { continue }
                                    let xv = Double(x[xb + ih * h + iw]), g = Double(gy[yb + oh * h + ow])
                                    y[yb + oh * h + ow] += wv * xv
                                    gx[xb + ih * h + iw] += wv * g
                                    gsum += g * xv
                                }
                            }
                            gw[wb + kh * 3 + kw] += gsum
                        }
                    }
                }
            }
        }
        return (y, gx, gw)
    }

    static func normal(_ count: Int, seed: UInt64, scale: Float) -> [Float] {
        var rng = Philox(seed: seed)
        return (0..<count).map { _ in rng.normal() * scale }
    }

    static func err(_ a: [Float], _ b: [Double]) -> Double {
        var num = 0.0, den = 0.0
        for i in 0..<b.count { num += (Double(a[i]) - b[i]) * (Double(a[i]) - b[i]); den += b[i] * b[i] }
        return (num / den).squareRoot()
    }
}
