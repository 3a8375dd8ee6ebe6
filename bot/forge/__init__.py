"""Tasks repositories on a forge (GitHub, Gitea, Forgejo, GitLab): remote mode and the webhook receiver."""
