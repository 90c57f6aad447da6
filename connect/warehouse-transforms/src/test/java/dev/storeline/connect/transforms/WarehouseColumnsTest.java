package dev.storeline.connect.transforms;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Date;
import java.util.List;
import java.util.Map;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.data.Timestamp;
import org.apache.kafka.connect.errors.DataException;
import org.apache.kafka.connect.sink.SinkRecord;
import org.junit.jupiter.api.Test;

class WarehouseColumnsTest {
  static final Schema MONEY =
      SchemaBuilder.struct().name("Money").optional()
          .field("amountMicros", Schema.INT64_SCHEMA)
          .field("currency", Schema.STRING_SCHEMA)
          .build();
  static final Schema SOURCE =
      SchemaBuilder.struct().name("Source")
          .field("notificationId", Schema.STRING_SCHEMA)
          .field("rawOffset", Schema.INT64_SCHEMA)
          .build();
  static final Schema EVENT =
      SchemaBuilder.struct().name("SubscriptionEvent")
          .field("eventId", Schema.STRING_SCHEMA)
          .field("occurredAt", Timestamp.SCHEMA)
          .field("expiresAt", Timestamp.builder().optional().build())
          .field("isResubscribe", SchemaBuilder.bool().defaultValue(false).build())
          .field("price", MONEY)
          .field("source", SOURCE)
          .build();

  static WarehouseColumns.Value<SinkRecord> transform(Map<String, String> props) {
    WarehouseColumns.Value<SinkRecord> t = new WarehouseColumns.Value<>();
    t.configure(props);
    return t;
  }

  static SinkRecord record(Schema schema, Object value) {
    return new SinkRecord("t", 0, Schema.STRING_SCHEMA, "k", schema, value, 7);
  }

  @Test
  void flattensIntoSnakeCaseColumnsWithZonedTimestamps() {
    Struct event =
        new Struct(EVENT)
            .put("eventId", "app_store:n1:0")
            .put("occurredAt", new Date(1_714_557_600_123L))
            .put("isResubscribe", true)
            .put("price", new Struct(MONEY).put("amountMicros", 9_990_000L).put("currency", "USD"))
            .put("source", new Struct(SOURCE).put("notificationId", "n1").put("rawOffset", 42L));
    SinkRecord out = transform(Map.of()).apply(record(EVENT, event));

    List<String> columns = out.valueSchema().fields().stream().map(Field::name).toList();
    assertEquals(
        List.of("event_id", "occurred_at", "expires_at", "is_resubscribe", "price_amount_micros",
            "price_currency", "source_notification_id", "source_raw_offset"),
        columns);
    Struct v = (Struct) out.value();
    assertEquals("2024-05-01T10:00:00.123Z", v.get("occurred_at"));
    assertEquals(WarehouseColumns.ZONED_TIMESTAMP, out.valueSchema().field("occurred_at").schema().name());
    assertTrue(out.valueSchema().field("expires_at").schema().isOptional());
    assertNull(v.get("expires_at"));
    assertEquals(9_990_000L, v.get("price_amount_micros"));
    // Leaves of an optional struct are optional even when required inside it.
    assertTrue(out.valueSchema().field("price_amount_micros").schema().isOptional());
    assertTrue(!out.valueSchema().field("source_raw_offset").schema().isOptional());
    assertEquals(42L, v.get("source_raw_offset"));
    assertEquals(false, out.valueSchema().field("is_resubscribe").schema().defaultValue());
    assertEquals("k", out.key());
    assertEquals(7, out.kafkaOffset());
  }

  @Test
  void nullOptionalStructGivesNullColumns() {
    Struct event =
        new Struct(EVENT)
            .put("eventId", "e")
            .put("occurredAt", new Date(0))
            .put("source", new Struct(SOURCE).put("notificationId", "n").put("rawOffset", 0L));
    Struct v = (Struct) transform(Map.of()).apply(record(EVENT, event)).value();
    assertNull(v.get("price_amount_micros"));
    assertNull(v.get("price_currency"));
    assertEquals("1970-01-01T00:00:00Z", v.get("occurred_at"));
  }

  @Test
  void unchangedKeepsNamesAndTimestamps() {
    Struct event =
        new Struct(EVENT)
            .put("eventId", "e")
            .put("occurredAt", new Date(5))
            .put("source", new Struct(SOURCE).put("notificationId", "n").put("rawOffset", 0L));
    SinkRecord out =
        transform(Map.of("field.names", "unchanged", "timestamps", "unchanged", "delimiter", "."))
            .apply(record(EVENT, event));
    assertEquals(Timestamp.LOGICAL_NAME, out.valueSchema().field("occurredAt").schema().name());
    assertEquals(new Date(5), ((Struct) out.value()).get("occurredAt"));
    assertEquals("n", ((Struct) out.value()).get("source.notificationId"));
  }

  @Test
  void tombstonesPassAndSchemalessValuesAreRejected() {
    SinkRecord tombstone = record(EVENT, null);
    assertSame(tombstone, transform(Map.of()).apply(tombstone));
    assertThrows(DataException.class, () -> transform(Map.of()).apply(record(null, Map.of("a", 1))));
  }

  @Test
  void collidingColumnsAreAnError() {
    Schema s =
        SchemaBuilder.struct()
            .field("planChange", SchemaBuilder.struct().field("id", Schema.STRING_SCHEMA).build())
            .field("plan_change_id", Schema.STRING_SCHEMA)
            .build();
    Struct v =
        new Struct(s)
            .put("planChange", new Struct(s.field("planChange").schema()).put("id", "a"))
            .put("plan_change_id", "b");
    assertThrows(DataException.class, () -> transform(Map.of()).apply(record(s, v)));
  }

  @Test
  void snakeCase() {
    assertEquals("event_id", WarehouseColumns.snakeCase("eventId"));
    assertEquals("grace_period_expires_at", WarehouseColumns.snakeCase("gracePeriodExpiresAt"));
    assertEquals("url_value", WarehouseColumns.snakeCase("URLValue"));
    assertEquals("sha256_hash", WarehouseColumns.snakeCase("sha256Hash"));
    assertEquals("already_snake", WarehouseColumns.snakeCase("already_snake"));
    assertEquals("type", WarehouseColumns.snakeCase("type"));
  }
}
