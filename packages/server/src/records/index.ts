/**
 * Records: the one door to the data. CRUD, batch transactions, expand, field selection, rule
 * enforcement and record hooks, over the collection registry and the database.
 */
export { RecordsService, parseExpand, emptyRequest, type CallContext, type ListParams, type ListResult, type OutputParams, type ExpandTree } from './records-service.ts';
export { ANONYMOUS, isSuperuser, type Principal } from './principal.ts';
export { RecordHooks, type RecordEvent, type RecordHandler, type RecordOperation } from './record-hooks.ts';
export { rowToRecord, stripHidden, isSecretField, isEncryptedField, encryptedFields, secretAad, openRecordSecrets, type ApiRecord } from './record-codec.ts';
export { rotateSealedValues, type RotationReport, type RotationOptions, type SealedValueLocation } from './record-key-rotation.ts';
export { schemaLookup } from './record-schema-lookup.ts';
export { DEFAULT_PER_PAGE, MAX_PER_PAGE, intParam } from './record-query.ts';
export { rowSerializer, type RowSerializer } from './record-serializer.ts';
export { ensureAuthRecordIds, releaseCollectionAuthIds } from './auth-record-ids.ts';
