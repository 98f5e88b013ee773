"""Files in and out: users' files read so nothing can crash evalkit, files written whole or not at all."""
