// LR schedules against torch.optim.lr_scheduler, stepped once per optimizer step.
import XCTest
@testable import NN

final class ScheduleTests: XCTestCase {
    /// PyTorch's side: each case is (base lr, steps, scheduler expression over `opt`); returns
    /// the lr used by each update.
    static let script = """
    import json, sys, warnings, torch
    from torch.optim import lr_scheduler as S
    warnings.filterwarnings('ignore')
    out = []
    for base, n, expr in json.load(sys.stdin):
        p = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([p], lr=base)
        sched = eval(expr)
        lrs = []
        for _ in range(n):
            lrs.append(opt.param_groups[0]['lr']); opt.step(); sched.step()
        out.append(lrs)
    print(json.dumps(out))
    """

    static let cases: [(schedule: LRSchedule, steps: Int, torch: String)] = [
        (LRSchedule(baseLR: 0.1, kind: .constant), 10, "S.LambdaLR(opt, lambda s: 1.0)"),
        (LRSchedule(baseLR: 0.1, kind: .step(stepSize: 7, gamma: 0.5)), 40, "S.StepLR(opt, step_size=7, gamma=0.5)"),
        (LRSchedule(baseLR: 0.1, kind: .multistep(milestones: [10, 25, 30], gamma: 0.1)), 40,
         "S.MultiStepLR(opt, milestones=[10, 25, 30], gamma=0.1)"),
        (LRSchedule(baseLR: 0.05, kind: .cosine(totalSteps: 50, minLR: 1e-4)), 50,
         "S.CosineAnnealingLR(opt, T_max=50, eta_min=1e-4)"),
        (LRSchedule(baseLR: 0.2, kind: .constant, warmupSteps: 4), 12,
         "S.LinearLR(opt, start_factor=1/4, total_iters=3)"),
        (LRSchedule(baseLR: 0.4, kind: .multistep(milestones: [12, 20], gamma: 0.1), warmupSteps: 5), 30,
         "S.ChainedScheduler([S.LinearLR(opt, start_factor=1/5, total_iters=4), S.MultiStepLR(opt, milestones=[12, 20], gamma=0.1)])"),
        (LRSchedule(baseLR: 0.1, kind: .step(stepSize: 6, gamma: 0.3), warmupSteps: 3), 25,
         "S.ChainedScheduler([S.LinearLR(opt, start_factor=1/3, total_iters=2), S.StepLR(opt, step_size=6, gamma=0.3)])"),
        (LRSchedule(baseLR: 0.1, kind: .cosine(totalSteps: 40, minLR: 1e-3), warmupSteps: 6), 40,
         "S.SequentialLR(opt, [S.LinearLR(opt, start_factor=1/6, total_iters=5), S.CosineAnnealingLR(opt, T_max=34, eta_min=1e-3)], milestones=[6])"),
        // Epoch-based: milestones 2 and 3.5 epochs at 4 steps per epoch are steps 8 and 14.
        (LRSchedule(baseLR: 0.1, epochKind: .multistep(milestoneEpochs: [2, 3.5], gamma: 0.2), warmupEpochs: 0.5,
                    epochs: 5, stepsPerEpoch: 4), 20,
         "S.ChainedScheduler([S.LinearLR(opt, start_factor=1/2, total_iters=1), S.MultiStepLR(opt, milestones=[round(2*4), round(3.5*4)], gamma=0.2)])"),
        (LRSchedule(baseLR: 0.1, epochKind: .cosine(minLR: 0), epochs: 3, stepsPerEpoch: 7), 21,
         "S.CosineAnnealingLR(opt, T_max=3*7, eta_min=0)"),
    ]

    func testAgainstTorch() throws {
        try TorchRunner.skipUnlessAvailable()
        let input = Self.cases.map { [$0.schedule.baseLR, $0.steps, $0.torch] as [Any] }
        let expected = try XCTUnwrap(TorchRunner.run(Self.script, input: input) as? [[Double]])
        XCTAssertEqual(expected.count, Self.cases.count)
        for (c, lrs) in zip(Self.cases, expected) {
            XCTAssertEqual(lrs.count, c.steps)
            for (s, want) in lrs.enumerated() {
                let got = c.schedule.rate(step: s)
                XCTAssertLessThanOrEqual(abs(got - want), 1e-9 * c.schedule.baseLR,
                                         "\(c.torch): step \(s): \(got) vs torch \(want)")
                XCTAssertEqual(c.schedule.lr(step: s), Float(got))
            }
        }
    }

    func testCosineEndsAtMinimumAndStaysThere() {
        let s = LRSchedule(baseLR: 0.1, kind: .cosine(totalSteps: 10, minLR: 0.01), warmupSteps: 2)
        XCTAssertEqual(s.rate(step: 10), 0.01)
        XCTAssertEqual(s.rate(step: 1000), 0.01)
        XCTAssertEqual(s.rate(step: 1), 0.1)   // last warmup step reaches the base rate
    }
}
