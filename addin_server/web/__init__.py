"""The web app: sign-in, pages, the Command Center, the Live Feed, mailbox and Salesforce
connection, unsubscribe links and provider webhooks. Blueprints are registered by create_app."""
