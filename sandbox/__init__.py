"""The local world: AWS in moto with an SSM Automation engine, a Slack emulator."""
