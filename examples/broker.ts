/**
 * The example broker moved to examples/broker/ (README.md there); this keeps the old command working:
 *
 *   npx tsx examples/broker.ts [--lookupd-tcp-address A] [--tcp-address A] [--http-address A] ...
 */
import './broker/main.js';
