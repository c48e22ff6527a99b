import { runStorageContract } from './contract.ts';
import { memoryStorage } from './memory.ts';

runStorageContract('memory', () => memoryStorage());
