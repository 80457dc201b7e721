// Config target: see DESIGN.md.
