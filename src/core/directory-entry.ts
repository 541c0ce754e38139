/**
 * Directory entry shapes [WIRE, docs/protocol.md#directory-entries]. Key order matches the original's
 * emission.
 */
import type { JsonObject, JsonValue } from '../core/json.js';

export interface Permission {
  group: string;
  rights: string[];
}
export interface Validator {
  type: string;
  parameters: JsonObject | null;
}
export interface Parameter {
  name: string;
  validators: Validator[] | null;
}
export interface Method {
  name: string;
  permissions: Permission[];
  parameters: Parameter[] | null;
}
export interface Service {
  name: string;
  permissions: Permission[];
  methods: Method[];
}
export interface Channel {
  type: string;
  settings: JsonObject | null;
}
export interface Certificate {
  fingerprint: string;
  key_usage: string;
}
export interface SettingsItem {
  operator: string;
  service: string;
  environment: string;
  settings: JsonObject;
}
export interface PreferenceItem {
  operator: string;
  service: string;
  environment: string;
  /** The original drops the payload; we keep it (issue: preferences take effect). */
  preferences: JsonValue;
}

export interface Signature {
  r: string;
  s: string;
  c: string;
}

export interface ChangeRecord {
  name: string;
  section: string;
  data: JsonValue[];
  created_at: string;
}

export interface SignedChangeRecord {
  parent_hash: string;
  hash: string;
  signature: Signature | null;
  record: ChangeRecord;
}

export interface DirectoryEntry {
  name: string;
  groups: string[];
  channels: Channel[];
  services: Service[];
  certificates: Certificate[];
  settings: SettingsItem[];
  preferences: PreferenceItem[] | null;
  records: SignedChangeRecord[];
  properties: { displayName: string };
}

export function newEntry(name: string): DirectoryEntry {
  return {
    name,
    groups: [],
    channels: [],
    services: [],
    certificates: [],
    settings: [],
    preferences: null,
    records: [],
    properties: { displayName: '' },
  };
}
