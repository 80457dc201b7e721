print("trainer")
