// A choice a builder made, with the reason, so the reconciler can put it in status, Events and logs rather than
// leaving people to reverse-engineer it from the produced object.
export interface Decision<T> {
  value: T;
  reason: string;
}
