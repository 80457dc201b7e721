/// The element-wise activation functions (NN's `Activation`, a layer list's `relu`, `tanh`, ...):
/// here because Config names them and NN computes them.
public enum ActivationKind: String, CaseIterable, Sendable { case relu, relu6, sigmoid, tanh }
