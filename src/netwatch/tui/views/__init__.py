"""The screens of the netwatch TUI, as views inside the main screen."""
