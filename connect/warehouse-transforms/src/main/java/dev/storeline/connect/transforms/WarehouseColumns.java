package dev.storeline.connect.transforms;

import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Date;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.Importance;
import org.apache.kafka.common.config.ConfigDef.Type;
import org.apache.kafka.connect.components.Versioned;
import org.apache.kafka.connect.connector.ConnectRecord;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.data.Timestamp;
import org.apache.kafka.connect.errors.DataException;
import org.apache.kafka.connect.transforms.Transformation;

/**
 * Shapes a record for a warehouse table: one column per leaf field.
 *
 * <ul>
 *   <li>Nested structs are flattened: {@code planChange.fromProductId} becomes {@code
 *       plan_change_from_product_id}; the leaves of an optional (nullable) struct are optional.
 *   <li>Field names become snake_case ({@code field.names=snake_case}, the default), so columns need no
 *       quoting and a field added to the Avro schema later gets a predictable column name.
 *   <li>Connect {@code Timestamp} fields (Avro {@code timestamp-millis}) become ISO-8601 UTC strings
 *       with the schema name {@code io.debezium.time.ZonedTimestamp} ({@code timestamps=zoned-string},
 *       the default): Debezium's JDBC sink creates {@code timestamptz} columns for them, where a plain
 *       Connect Timestamp would give {@code timestamp} without a zone. Use {@code unchanged} for sinks
 *       that map Connect Timestamps to a zoned type themselves (BigQuery, Snowflake).
 * </ul>
 *
 * Records without a value (tombstones) pass through. Values without a schema, or not a struct, are a
 * {@link DataException}: with {@code errors.tolerance=all} such a record goes to the dead-letter queue.
 * The output schema is computed once per input schema, so a new schema version (a field added to the
 * Avro schema) yields a new output schema with the extra column, which the sink then adds to the table.
 */
public abstract class WarehouseColumns<R extends ConnectRecord<R>> implements Transformation<R>, Versioned {

  public static final String FIELD_NAMES = "field.names";
  public static final String TIMESTAMPS = "timestamps";
  public static final String DELIMITER = "delimiter";
  public static final String ZONED_TIMESTAMP = "io.debezium.time.ZonedTimestamp";

  public static final ConfigDef CONFIG_DEF =
      new ConfigDef()
          .define(
              FIELD_NAMES,
              Type.STRING,
              "snake_case",
              ConfigDef.ValidString.in("snake_case", "unchanged"),
              Importance.MEDIUM,
              "snake_case: column names in snake_case (eventId -> event_id); unchanged: as in the schema.")
          .define(
              TIMESTAMPS,
              Type.STRING,
              "zoned-string",
              ConfigDef.ValidString.in("zoned-string", "unchanged"),
              Importance.MEDIUM,
              "zoned-string: Connect Timestamps become ISO-8601 UTC strings named "
                  + ZONED_TIMESTAMP
                  + " (timestamptz in Debezium's JDBC sink); unchanged: left as Connect Timestamps.")
          .define(
              DELIMITER,
              Type.STRING,
              "_",
              new ConfigDef.NonEmptyString(),
              Importance.LOW,
              "Separator between a struct's column prefix and its fields' names.");

  private static final DateTimeFormatter ISO = DateTimeFormatter.ISO_OFFSET_DATE_TIME;
  private static final int CACHE_SIZE = 64;

  /** One output column: the path of fields from the root to the leaf, and whether it is re-typed. */
  private record Leaf(Field[] path, String column, boolean timestamp) {}

  private record Plan(Schema schema, List<Leaf> leaves) {}

  private boolean snakeCase;
  private boolean zonedTimestamps;
  private String delimiter;

  private final Map<Schema, Plan> plans =
      Collections.synchronizedMap(
          new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Schema, Plan> eldest) {
              return size() > CACHE_SIZE;
            }
          });

  @Override
  public void configure(Map<String, ?> props) {
    AbstractConfig config = new AbstractConfig(CONFIG_DEF, props);
    snakeCase = "snake_case".equals(config.getString(FIELD_NAMES));
    zonedTimestamps = "zoned-string".equals(config.getString(TIMESTAMPS));
    delimiter = config.getString(DELIMITER);
    plans.clear();
  }

  @Override
  public R apply(R record) {
    Object value = operatingValue(record);
    if (value == null) return record;
    Schema schema = operatingSchema(record);
    if (schema == null || schema.type() != Schema.Type.STRUCT || !(value instanceof Struct)) {
      throw new DataException(
          "WarehouseColumns needs a struct with a schema (a schema-aware converter such as Avro), got "
              + (schema == null ? "no schema" : "a " + schema.type() + " schema")
              + " in "
              + record.topic()
              + " partition "
              + record.kafkaPartition());
    }
    Plan plan = plans.get(schema);
    if (plan == null) {
      plan = plan(schema);
      plans.put(schema, plan);
    }
    Struct in = (Struct) value;
    Struct out = new Struct(plan.schema());
    for (Leaf leaf : plan.leaves()) {
      Object v = in;
      for (Field f : leaf.path()) {
        v = ((Struct) v).get(f);
        if (v == null) break;
      }
      if (v == null) continue;
      out.put(leaf.column(), leaf.timestamp() ? format((Date) v) : v);
    }
    out.validate();
    return newRecord(record, plan.schema(), out);
  }

  private Plan plan(Schema root) {
    SchemaBuilder builder = SchemaBuilder.struct();
    if (root.name() != null) builder.name(root.name());
    if (root.version() != null) builder.version(root.version());
    if (root.doc() != null) builder.doc(root.doc());
    List<Leaf> leaves = new ArrayList<>();
    walk(root, new ArrayList<>(), "", false, builder, leaves, new HashSet<>());
    return new Plan(builder.build(), List.copyOf(leaves));
  }

  private void walk(
      Schema struct,
      List<Field> path,
      String prefix,
      boolean optionalParent,
      SchemaBuilder out,
      List<Leaf> leaves,
      Set<String> columns) {
    for (Field field : struct.fields()) {
      String name = snakeCase ? snakeCase(field.name()) : field.name();
      String column = prefix.isEmpty() ? name : prefix + delimiter + name;
      List<Field> fieldPath = new ArrayList<>(path);
      fieldPath.add(field);
      Schema fs = field.schema();
      boolean optional = optionalParent || fs.isOptional();
      if (fs.type() == Schema.Type.STRUCT) {
        walk(fs, fieldPath, column, optional, out, leaves, columns);
        continue;
      }
      if (!columns.add(column)) {
        throw new DataException("two fields of " + root(struct) + " map to the column " + column);
      }
      boolean timestamp = zonedTimestamps && Timestamp.LOGICAL_NAME.equals(fs.name());
      out.field(column, timestamp ? zonedSchema(fs, optional) : withOptional(fs, optional));
      leaves.add(new Leaf(fieldPath.toArray(new Field[0]), column, timestamp));
    }
  }

  private static String root(Schema s) {
    return s.name() == null ? "the record" : s.name();
  }

  private static Schema zonedSchema(Schema ts, boolean optional) {
    SchemaBuilder b = SchemaBuilder.string().name(ZONED_TIMESTAMP).version(1);
    if (ts.doc() != null) b.doc(ts.doc());
    if (optional) b.optional();
    if (ts.defaultValue() != null) b.defaultValue(format((Date) ts.defaultValue()));
    return b.build();
  }

  /** The leaf's schema, made optional when a struct above it is optional (a null parent, a null leaf). */
  private static Schema withOptional(Schema s, boolean optional) {
    if (!optional || s.isOptional()) return s;
    SchemaBuilder b =
        switch (s.type()) {
          case ARRAY -> SchemaBuilder.array(s.valueSchema());
          case MAP -> SchemaBuilder.map(s.keySchema(), s.valueSchema());
          default -> SchemaBuilder.type(s.type());
        };
    if (s.name() != null) b.name(s.name());
    if (s.version() != null) b.version(s.version());
    if (s.doc() != null) b.doc(s.doc());
    if (s.parameters() != null) b.parameters(s.parameters());
    b.optional();
    if (s.defaultValue() != null) b.defaultValue(s.defaultValue());
    return b.build();
  }

  static String format(Date date) {
    return ISO.format(date.toInstant().atOffset(ZoneOffset.UTC));
  }

  /** eventId -> event_id, amountMicros -> amount_micros, URLValue -> url_value, sha256Hash -> sha256_hash. */
  static String snakeCase(String name) {
    StringBuilder out = new StringBuilder(name.length() + 8);
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (Character.isUpperCase(c)) {
        char prev = i > 0 ? name.charAt(i - 1) : '_';
        boolean afterWord = Character.isLowerCase(prev) || Character.isDigit(prev);
        boolean endOfAcronym =
            Character.isUpperCase(prev) && i + 1 < name.length() && Character.isLowerCase(name.charAt(i + 1));
        if ((afterWord || endOfAcronym) && out.length() > 0 && out.charAt(out.length() - 1) != '_') {
          out.append('_');
        }
        out.append(Character.toLowerCase(c));
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }

  @Override
  public ConfigDef config() {
    return CONFIG_DEF;
  }

  @Override
  public String version() {
    String v = WarehouseColumns.class.getPackage().getImplementationVersion();
    return v == null ? "1" : v;
  }

  @Override
  public void close() {
    plans.clear();
  }

  protected abstract Schema operatingSchema(R record);

  protected abstract Object operatingValue(R record);

  protected abstract R newRecord(R record, Schema schema, Object value);

  /** Shapes the record's value (the usual case). */
  public static class Value<R extends ConnectRecord<R>> extends WarehouseColumns<R> {
    @Override
    protected Schema operatingSchema(R record) {
      return record.valueSchema();
    }

    @Override
    protected Object operatingValue(R record) {
      return record.value();
    }

    @Override
    protected R newRecord(R record, Schema schema, Object value) {
      return record.newRecord(
          record.topic(),
          record.kafkaPartition(),
          record.keySchema(),
          record.key(),
          schema,
          value,
          record.timestamp(),
          record.headers());
    }
  }

  /** Shapes a struct key. */
  public static class Key<R extends ConnectRecord<R>> extends WarehouseColumns<R> {
    @Override
    protected Schema operatingSchema(R record) {
      return record.keySchema();
    }

    @Override
    protected Object operatingValue(R record) {
      return record.key();
    }

    @Override
    protected R newRecord(R record, Schema schema, Object value) {
      return record.newRecord(
          record.topic(),
          record.kafkaPartition(),
          schema,
          value,
          record.valueSchema(),
          record.value(),
          record.timestamp(),
          record.headers());
    }
  }
}
