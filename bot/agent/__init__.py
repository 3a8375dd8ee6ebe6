"""taskbot as a Model Context Protocol server (`taskbot mcp`): an orchestrating agent lists,
plans, runs and reads tasks through tools, judged by the same rules as a push."""
