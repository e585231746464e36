"""Alert schemas added by this project (see README.md here); package data only."""
