// Integration tests talk to a real broker: joins, transactions and rebalances take seconds, not ms.
jest.setTimeout(120_000);
