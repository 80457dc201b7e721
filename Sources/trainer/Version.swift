/// The trainer's version, printed by `trainer --version` (semantic versioning; bump on release).
let trainerVersion = "0.2.0"
