"""Text as taskbot shows it: escaped for Markdown and HTML, capped, and on the terminal."""
