import XCTest
@testable import Config

/// Each bad config must fail with one line naming the file, the line (marked `# <-` in the
/// text) or the `--set`, the key, and the problem.
final class BadConfigTests: XCTestCase {
    struct Case {
        let text: String
        var overrides: [String] = []
        /// Expected "file:line: key" or "--set key" prefix of the message; `#` is replaced by
        /// the line marked `# <-`.
        let prefix: String
        let contains: String
    }

    static let base = """
    model:
      name: resnet20
    data:
      path: data/x.h5
    train:
      epochs: 10
    """

    static let cases: [Case] = [
        Case(text: "model:\n  name: resnet20: x   # <-\ndata: {path: d}\ntrain: {epochs: 1}\n",
             prefix: "bad.cfg:#: ", contains: "YAML syntax error"),
        Case(text: "model: {name: resnet20\ndata: {path: d}   # <-\n", prefix: "bad.cfg:#: ", contains: "YAML syntax error"),
        Case(text: base + "\noptimizer:\n  lrr: 0.1   # <-\n", prefix: "bad.cfg:#: optimizer.lrr: ",
             contains: "unknown key (did you mean 'lr'?)"),
        Case(text: "model: {name: resnet20}\ndata:\n  path: d\n  residency: strem   # <-\ntrain: {epochs: 1}\n",
             prefix: "bad.cfg:#: data.residency: ", contains: "unknown residency 'strem' (did you mean 'stream'?)"),
        Case(text: base + "\ndata_:\n  x: 1\n", prefix: "bad.cfg:7: data_: ", contains: "unknown section (did you mean 'data'?)"),
        Case(text: base.replacingOccurrences(of: "epochs: 10", with: "epochs: abc   # <-"),
             prefix: "bad.cfg:#: train.epochs: ", contains: "expected an integer, got 'abc'"),
        Case(text: base.replacingOccurrences(of: "epochs: 10", with: "epochs: 0   # <-"),
             prefix: "bad.cfg:#: train.epochs: ", contains: "must be >= 1, got 0"),
        Case(text: base + "\n  batch_size: 0   # <-\n", prefix: "bad.cfg:#: train.batch_size: ", contains: "must be >= 1"),
        Case(text: base + "\noptimizer:\n  name: sgd\n  lr: -0.1   # <-\n", prefix: "bad.cfg:#: optimizer.lr: ", contains: "must be >= 0"),
        Case(text: base + "\noptimizer:\n  lr: \"0.1\"   # <-\n", prefix: "bad.cfg:#: optimizer.lr: ",
             contains: "expected a number, got '0.1'"),
        Case(text: base + "\noptimizer:\n  momentum: 1.0   # <-\n", prefix: "bad.cfg:#: optimizer.momentum: ",
             contains: "must lie in [0, 1)"),
        Case(text: base + "\noptimizer:\n  name: sgdd   # <-\n", prefix: "bad.cfg:#: optimizer.name: ",
             contains: "unknown optimizer 'sgdd' (did you mean 'sgd'?)"),
        Case(text: base + "\noptimizer:\n  name: adam\n  momentum: 0.9   # <-\n", prefix: "bad.cfg:#: optimizer.momentum: ",
             contains: "not used by optimizer 'adam'"),
        Case(text: base + "\noptimizer:\n  nesterov: true   # <-\n", prefix: "bad.cfg:#: optimizer.nesterov: ",
             contains: "needs optimizer.momentum > 0"),
        Case(text: base + "\noptimizer:\n  name: adam\n  betas: [0.9]   # <-\n", prefix: "bad.cfg:#: optimizer.betas: ",
             contains: "expected [beta1, beta2]"),
        Case(text: base.replacingOccurrences(of: "name: resnet20", with: "name: resnet21   # <-"),
             prefix: "bad.cfg:#: model.name: ", contains: "unknown model 'resnet21' (did you mean 'resnet20'?)"),
        Case(text: base.replacingOccurrences(of: "name: resnet20", with: "name: resnet20\n  growth: 12   # <-"),
             prefix: "bad.cfg:#: model.growth: ", contains: "not used by model 'resnet20'"),
        Case(text: base.replacingOccurrences(of: "  path: data/x.h5\n", with: "  shuffle: false\n"),
             prefix: "bad.cfg:3: data.path: ", contains: "missing (required)"),
        Case(text: "data: {path: d}\ntrain: {epochs: 1}\n", prefix: "bad.cfg:1: model.name: ", contains: "missing (required)"),
        Case(text: base + "\nschedule:\n  name: multistep\n  milestones: [-1, 12]   # <-\n", prefix: "bad.cfg:#: schedule.milestones: ",
             contains: "must be >= 0 epochs"),
        Case(text: base + "\nschedule:\n  name: multistep\n  milestones: [6, 5]   # <-\n", prefix: "bad.cfg:#: schedule.milestones: ",
             contains: "must be increasing"),
        Case(text: base + "\nschedule:\n  name: cosinus   # <-\n", prefix: "bad.cfg:#: schedule.name: ",
             contains: "did you mean 'cosine'?"),
        Case(text: base + "\ntrain:   # <-\n  seed: 2\n", prefix: "bad.cfg:#: ", contains: "duplicate key 'train'"),
        Case(text: base.replacingOccurrences(of: "name: resnet20", with: "name: layers\n  input: [3, 8, 8]\n  layers:\n    - conv: {out: 4}\n    - dropout: {p: 1.5}   # <-"),
             prefix: "bad.cfg:#: model.layers[1].dropout.p: ", contains: "must lie in [0, 1)"),
        Case(text: base.replacingOccurrences(of: "name: resnet20", with: "name: layers\n  input: [3, 8, 8]\n  layers:\n    - conv: {out: 4}\n    - rellu   # <-"),
             prefix: "bad.cfg:#: model.layers[1]: ", contains: "unknown layer 'rellu' (did you mean 'relu'?)"),
        Case(text: base.replacingOccurrences(of: "name: resnet20", with: "name: layers\n  input: [3, 8, 8]\n  layers:\n    - conv: {out: 4, kernal: 3}   # <-"),
             prefix: "bad.cfg:#: model.layers[0].conv.kernal: ", contains: "unknown key (did you mean 'kernel'?)"),
        Case(text: base.replacingOccurrences(of: "name: resnet20", with: "name: layers\n  layers: [relu]"),
             prefix: "bad.cfg:1: model.input: ", contains: "missing (required)"),
        // Validation, best checkpoint, early stopping, TensorBoard.
        Case(text: base.replacingOccurrences(of: "  path: data/x.h5", with: "  path: data/x.h5\n  val_split: 1.5   # <-"),
             prefix: "bad.cfg:#: data.val_split: ", contains: "must lie in (0, 1), got 1.5"),
        Case(text: base.replacingOccurrences(of: "  path: data/x.h5", with: "  path: data/x.h5\n  val_split: 0   # <-"),
             prefix: "bad.cfg:#: data.val_split: ", contains: "must lie in (0, 1), got 0"),
        Case(text: base + "\n  early_stop: {metric: val_acc, patience: -1}   # <-\n", prefix: "bad.cfg:#: train.early_stop.patience: ",
             contains: "must be >= 0, got -1"),
        Case(text: base + "\n  early_stop: {metric: vall_acc}   # <-\n", prefix: "bad.cfg:#: train.early_stop.metric: ",
             contains: "unknown metric 'vall_acc' (did you mean 'val_acc'?)"),
        Case(text: base + "\n  early_stop: {min_delta: -0.1}   # <-\n", prefix: "bad.cfg:#: train.early_stop.min_delta: ",
             contains: "must be >= 0, got -0.1"),
        Case(text: base + "\n  early_stop: {patience: 3, patient: 2}   # <-\n", prefix: "bad.cfg:#: train.early_stop.patient: ",
             contains: "unknown key (did you mean 'patience'?)"),
        Case(text: base + "\n  early_stop: 5   # <-\n", prefix: "bad.cfg:#: train.early_stop: ", contains: "expected a mapping of keys"),
        Case(text: base + "\ncheckpoint:\n  best: acc   # <-\n", prefix: "bad.cfg:#: checkpoint.best: ",
             contains: "unknown metric 'acc'"),
        Case(text: base + "\ncheckpoint:\n  best: val_los   # <-\n", prefix: "bad.cfg:#: checkpoint.best: ",
             contains: "unknown metric 'val_los' (did you mean 'val_loss'?)"),
        Case(text: base + "\nlog:\n  tensorboard: maybe   # <-\n", prefix: "bad.cfg:#: log.tensorboard: ",
             contains: "expected true or false, got 'maybe'"),
        Case(text: base, overrides: ["data.val_split=-0.2"], prefix: "--set data.val_split: ", contains: "must lie in (0, 1)"),
        // Overrides: errors name the --set.
        Case(text: base, overrides: ["optimizer.lrr=0.1"], prefix: "--set optimizer.lrr: ", contains: "did you mean 'lr'?"),
        Case(text: base, overrides: ["train.epochs=abc"], prefix: "--set train.epochs: ", contains: "expected an integer, got 'abc'"),
        Case(text: base, overrides: ["optimizer.lr=-1"], prefix: "--set optimizer.lr: ", contains: "must be >= 0"),
        Case(text: base, overrides: ["trian.epochs=3"], prefix: "--set trian: ", contains: "unknown section (did you mean 'train'?)"),
        Case(text: base, overrides: ["train.epochs"], prefix: "--set train.epochs: ", contains: "expected section.key=value"),
        Case(text: base, overrides: ["epochs=3"], prefix: "--set epochs: ", contains: "expected section.key=value"),
        Case(text: base, overrides: ["optimizer.betas=[0.9,"], prefix: "--set optimizer.betas: ", contains: "cannot parse value"),
        Case(text: base, overrides: ["train.epochs.x=3"], prefix: "--set train.epochs.x: ", contains: "not a mapping"),
    ]

    func testEachBadConfigNamesFileLineAndKey() {
        for c in Self.cases {
            let lines = c.text.split(separator: "\n", omittingEmptySubsequences: false)
            let marked = lines.firstIndex { $0.contains("# <-") }.map { String($0 + 1) } ?? "#"
            let prefix = c.prefix.replacingOccurrences(of: ":#:", with: ":\(marked):")
            do {
                _ = try RunConfig.parse(text: c.text, file: "bad.cfg", overrides: c.overrides)
                XCTFail("accepted, expected \(prefix)…\(c.contains):\n\(c.text)")
            } catch let e as ConfigError {
                let message = e.description
                XCTAssertTrue(message.hasPrefix(prefix), "got: \(message)\nwanted prefix: \(prefix)")
                XCTAssertTrue(message.contains(c.contains), "got: \(message)\nwanted: \(c.contains)")
                XCTAssertFalse(message.contains("\n"), "one line: \(message)")
            } catch {
                XCTFail("not a ConfigError: \(error)")
            }
        }
    }

    func testMissingFile() {
        XCTAssertThrowsError(try RunConfig.load(path: "/nonexistent/x.cfg")) { e in
            XCTAssertEqual((e as? ConfigError)?.description, "/nonexistent/x.cfg: no such file")
        }
    }

    func testSuggestionsNeedSimilarity() {
        XCTAssertEqual(Suggest.nearest("lrr", in: ["name", "lr", "momentum"]), "lr")
        XCTAssertEqual(Suggest.nearest("weightdecay", in: ["weight_decay", "lr"]), "weight_decay")
        XCTAssertNil(Suggest.nearest("zzzzzz", in: ["name", "lr", "momentum"]))
        XCTAssertEqual(Suggest.hint("zzz", in: ["a", "b"]).trimmingCharacters(in: .whitespaces), "(expected one of: a, b)")
    }
}
