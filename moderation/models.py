# The checks, queue, rules, reports and appeals arrive with the checks and moderation issues.
