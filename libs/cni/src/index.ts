/**
 * The CNI protocol as nicpool's plugins speak it (the IPAM shim `spiderpool` and the chained
 * `veth`): versions, error objects, the environment, the netconf envelope and results in
 * each version. Standard library only: both plugins are single executables that start on
 * every exec, so nothing here may load more than it uses.
 */
export * from './errors.ts';
export * from './gc.ts';
export * from './env.ts';
export * from './netconf.ts';
export * from './result.ts';
export * from './run.ts';
