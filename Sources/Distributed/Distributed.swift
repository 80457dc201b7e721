// Distributed target: see DESIGN.md.
