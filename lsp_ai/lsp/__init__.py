"""The LSP front-end: a pygls server whose handlers convert, call the assistant, convert back."""
