"""Text as taskbot shows it: escaped for Markdown, HTML and YAML, capped, on the terminal;
durations as people write them."""
