"""The dataset side: upstream reader, build, card, config table, contract, validators, loader, push."""
