export { default, pipKeys, PLUGIN_NAME, COMPOSITOR } from './plugin.js';
export {
  pipRect,
  padProperties,
  borderRect,
  borderWidth,
  layoutValidator,
  DEFAULT_LAYOUT,
  type PipLayout,
  type Rect,
  type Corner,
  type SourceRole,
} from './layout.js';
