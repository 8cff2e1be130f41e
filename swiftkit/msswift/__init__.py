"""What the installed ms-swift is and accepts (version, flag names and renames, model
families), learned from package metadata, its source as text and shipped tables: never by
importing it."""
