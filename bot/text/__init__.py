"""Text as taskbot shows it: escaped for Markdown, HTML and YAML, capped, and on the terminal."""
