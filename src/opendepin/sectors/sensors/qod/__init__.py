"""Quality of data of one station: WeatherXM's range (OBC) and self checks (SQC), ported to integers."""
