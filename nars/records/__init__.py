"""What a search writes and reads back: the run folder's file names, the trial and curve tables, the recipes."""
