"""Venues room (binance): Binance spot + USD-M adapter — signing (auth), wire shapes (schemas), pure
parsers (parse), exchangeInfo → instruments, capabilities as data, error table, and `BinanceExchange`.

Touches nothing at import.
"""
