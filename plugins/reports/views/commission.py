"""Commission tiers per contract (佣金分档): the settings page."""
