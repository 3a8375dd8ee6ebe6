"""The state dir: the name of every file and folder in it, and the stores it keeps."""
