-- Events recorded from the engine (JetStream ORDERS_*/FILLS_*/RISK_* streams), one row per EVENT record.
-- u64 fields (client_order_id, venue_order_id, trade_id, ref_seq, seq) are stored as bigint with the same
-- 64-bit pattern (values >= 2^63 read back negative; cast with `x::numeric + 2^64` when needed).
CREATE TABLE events (
    source          integer  NOT NULL,
    seq             bigint   NOT NULL,
    kind            smallint NOT NULL,
    flags           integer  NOT NULL,
    venue           smallint NOT NULL,
    market          smallint NOT NULL,
    account         bigint   NOT NULL,
    instrument      bigint   NOT NULL,
    client_order_id bigint   NOT NULL,
    venue_order_id  bigint   NOT NULL,
    price           bigint   NOT NULL,
    qty             bigint   NOT NULL,
    cum_qty         bigint   NOT NULL,
    leaves_qty      bigint   NOT NULL,
    fee             bigint   NOT NULL,
    trade_id        bigint   NOT NULL,
    ts_venue_ns     bigint   NOT NULL,
    ts_ns           bigint   NOT NULL,
    reason          integer  NOT NULL,
    side            smallint NOT NULL,
    liquidity       smallint NOT NULL,
    order_type      smallint NOT NULL,
    status          smallint NOT NULL,
    fee_asset       bigint   NOT NULL,
    ref_seq         bigint   NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, seq)
);

-- Fills: the OrderFilled events again, keyed the same way, for fill queries without scanning events.
CREATE TABLE fills (
    source          integer  NOT NULL,
    seq             bigint   NOT NULL,
    account         bigint   NOT NULL,
    venue           smallint NOT NULL,
    market          smallint NOT NULL,
    instrument      bigint   NOT NULL,
    client_order_id bigint   NOT NULL,
    venue_order_id  bigint   NOT NULL,
    trade_id        bigint   NOT NULL,
    side            smallint NOT NULL,
    price           bigint   NOT NULL,
    qty             bigint   NOT NULL,
    fee             bigint   NOT NULL,
    fee_asset       bigint   NOT NULL,
    liquidity       smallint NOT NULL,
    ts_venue_ns     bigint   NOT NULL,
    ts_ns           bigint   NOT NULL,
    PRIMARY KEY (source, seq)
);
CREATE INDEX fills_order ON fills (client_order_id);

-- Orders: the latest state of each order (the event with the highest seq wins).
CREATE TABLE orders (
    client_order_id bigint   PRIMARY KEY,
    source          integer  NOT NULL,
    last_seq        bigint   NOT NULL,
    last_kind       smallint NOT NULL,
    status          smallint NOT NULL,
    account         bigint   NOT NULL,
    venue           smallint NOT NULL,
    market          smallint NOT NULL,
    instrument      bigint   NOT NULL,
    venue_order_id  bigint   NOT NULL,
    side            smallint NOT NULL,
    order_type      smallint NOT NULL,
    price           bigint   NOT NULL,
    cum_qty         bigint   NOT NULL,
    leaves_qty      bigint   NOT NULL,
    ts_ns           bigint   NOT NULL
);
