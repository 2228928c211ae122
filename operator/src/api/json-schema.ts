// The subset of apiextensions.k8s.io/v1 JSONSchemaProps that the MuCluster schema uses, with wire (YAML) field names.
// We do not use client-node's V1JSONSchemaProps: its TypeScript names (`_default`, `xKubernetesValidations`) differ
// from the wire names and only its ObjectSerializer maps them back.

/** A CEL rule evaluated by the API server (x-kubernetes-validations). */
export interface ValidationRule {
  rule: string;
  /** Shown to the user; names the field it is about. */
  message: string;
  /** JSONPath (relative to the schema node) of the field to blame, for rules written on a parent. */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

export type SchemaType = 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';

export interface JSONSchema {
  type?: SchemaType;
  /**
   * Names the TypeScript type generated for this node (objects) — see typegen.ts. On an object with
   * x-kubernetes-preserve-unknown-fields it names a @kubernetes/client-node model type instead (e.g. V1Affinity).
   */
  title?: string;
  description?: string;
  format?: 'int32' | 'int64' | 'date-time';
  default?: unknown;
  enum?: readonly (string | number)[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  properties?: Record<string, JSONSchema>;
  required?: readonly string[];
  additionalProperties?: JSONSchema;
  items?: JSONSchema;
  anyOf?: readonly JSONSchema[];
  'x-kubernetes-int-or-string'?: true;
  'x-kubernetes-preserve-unknown-fields'?: true;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: readonly string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-validations'?: readonly ValidationRule[];
}
