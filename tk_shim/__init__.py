"""Real programs on a simulated namespace: the preload shim's Python side.

Networking and daemons (pure Python, engine API only): `netsim` (virtual UDP/IPv4 network),
`ntp_packet` (NTPv4 wire format), `ntp_server` (model NTP server and client endpoints),
`daemons` (finding chronyd / ntpd), `daemon_config` (their configuration and command lines).
"""
