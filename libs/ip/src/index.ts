export {
  BITS,
  canonicalIP,
  formatCIDRNetwork,
  formatIP,
  maxValue,
  parseCIDR,
  parseIP,
  type Address,
  type Cidr,
  type IPError,
  type IPFamily,
} from './address.ts';
export { parseRange, RangeSet, type Interval } from './range-set.ts';
