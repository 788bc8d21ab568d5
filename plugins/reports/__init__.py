"""The reports module (统计报表): recovery, portfolio, activity, rankings and commission."""
