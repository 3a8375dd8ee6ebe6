"""taskbot: executes infrastructure tasks written as Markdown checklists."""
