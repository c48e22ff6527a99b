import { runSigningKeyStoreContract, runStorageContract } from './contract.ts';
import { memorySigningKeyStore, memoryStorage } from './memory.ts';

runStorageContract('memory', () => memoryStorage());
runSigningKeyStoreContract('memory', async () => ({ store: memorySigningKeyStore(), close() {} }));
