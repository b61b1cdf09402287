"""The UserSide side: the API hook, tolerant reply parsing and the view models."""
