// Training target: see DESIGN.md.
