// IO target: see DESIGN.md.
