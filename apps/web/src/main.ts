import './style.css';
import { App } from './app.ts';

const root = document.getElementById('app');
if (root) new App(root);
